"""The local Slack-compatible workspace: Web API and Socket Mode emulators, signed payloads.

Used by the tests and bench/slack.py; the seed of a local workspace command still to come.

The bot never imports this package; it talks to it over HTTP and WebSocket only, as to Slack.
"""
