"""Everything that speaks Slack or HTTP. It never runs agent code and never imports docker."""
