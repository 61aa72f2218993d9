"""LlamaIndex OpenAILike: usage `python llamaindex_client.py BASE_URL stream|plain PROMPT`."""

import json
import sys
from importlib.metadata import version

from llama_index.core.llms import ChatMessage
from llama_index.llms.openai_like import OpenAILike

base, mode, prompt = sys.argv[1:4]
llm = OpenAILike(model="human", api_base=base, api_key="sk-llamaindex", is_chat_model=True,
                 context_window=128000, max_retries=0)
messages = [ChatMessage(role="user", content=prompt)]
if mode == "stream":
    text = "".join(piece.delta or "" for piece in llm.stream_chat(messages))
else:
    text = llm.chat(messages).message.content
names = ("llama-index-core", "llama-index-llms-openai-like", "openai")
print(json.dumps({"text": text, "versions": {n: version(n) for n in names}}))
