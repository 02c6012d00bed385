"""The Slack face: the Bolt app, its listeners, Block Kit renderers and the notifier."""
