"""LiteLLM against a running server: usage `python litellm_client.py BASE_URL stream|plain PROMPT`."""

import json
import sys
from importlib.metadata import version

import litellm

base, mode, prompt = sys.argv[1:4]
arguments = {"model": "openai/human", "api_base": base, "api_key": "sk-litellm",
             "messages": [{"role": "user", "content": prompt}], "num_retries": 0}
if mode == "stream":
    chunks = litellm.completion(stream=True, **arguments)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
else:
    text = litellm.completion(**arguments).choices[0].message.content
print(json.dumps({"text": text, "versions": {n: version(n) for n in ("litellm", "openai")}}))
