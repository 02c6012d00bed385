"""One module per graph node; each node is an async function returning only the keys it changes."""
