"""The LLM copilot: profiles, the upstream client, and recognising chat apps' side requests."""
