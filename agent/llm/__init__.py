"""The LLM side of the workflow: a chat client for any OpenAI-compatible endpoint, budgets, prompts, context."""
