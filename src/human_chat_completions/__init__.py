"""Human Chat Completions: an OpenAI-compatible server answered by a human operator."""

__version__ = "0.1.0"
