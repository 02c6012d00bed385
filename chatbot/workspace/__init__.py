"""The local Slack-compatible workspace (seed of `fixbot dev`): Web API and Socket Mode emulators, signed payloads.

The bot never imports this package; it talks to it over HTTP and WebSocket only, as to Slack.
"""
