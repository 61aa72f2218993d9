"""Recognising the requests chat apps send on their own (titles, tags, follow-up suggestions, search queries).

They arrive on the same endpoint as the participant's messages, but no participant wrote them: the operator should
not have to answer "Generate a concise, 3-5 word title…" by hand. A rule is a case-insensitive regular expression
looked for in the last user message or in the system prompt.

The built-in patterns follow the prompts these apps ship (checked against their sources):
Open WebUI `backend/open_webui/config.py` (DEFAULT_*_GENERATION_PROMPT_TEMPLATE), LibreChat's title prompts
(api/app/clients/prompts/titlePrompts, @librechat/agents title.ts), NextChat's `Store.Prompt.Topic/Summarize`
(app/locales, app/store/chat.ts) and LobeChat's `chainSummaryTitle`.

Each rule says what to do (`action`) and carries a `reply` in the format the app expects, so that "canned" works
without an LLM and without sending the conversation anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from human_chat_completions.copilot.schemas import SideRequestRule, Where
from human_chat_completions.core.exchange import message_text

__all__ = ["DEFAULT_RULES", "SideRequestRule", "effective_rules", "find_side_request", "match_side_request"]


def _rule(name: str, pattern: str, reply: str, where: Where = "last_user") -> SideRequestRule:
    return SideRequestRule(name=name, pattern=pattern, reply=reply, where=where)


DEFAULT_RULES: tuple[SideRequestRule, ...] = (
    # Open WebUI: every task prompt is a single user message starting "### Task:".
    _rule("openwebui-title", r"###\s*Task:\s*Generate a concise\b[^\n]{0,80}\btitle\b", '{"title": "New chat"}'),
    _rule("openwebui-tags", r"###\s*Task:\s*Generate 1-3 broad tags", '{"tags": ["General"]}'),
    _rule("openwebui-follow-ups", r"###\s*Task:\s*Suggest 3-5 relevant follow-up questions",
          '{"follow_ups": []}'),
    _rule("openwebui-search-queries",
          r"###\s*Task:\s*Analy[sz]e the chat history to determine the necessity of generating search queries",
          '{"queries": []}'),
    _rule("openwebui-autocomplete", r"###\s*Task:\s*You are an autocompletion system", '{"text": ""}'),
    _rule("openwebui-emoji", r"^\s*Your task is to reflect the speaker's likely facial expression through a "
          r"fitting emoji", "💬"),
    # LibreChat: the completion title prompt and its title instruction, the agents' structured title prompt,
    # and the Assistants endpoint's title prompt.
    _rule("librechat-title",
          r"\b5-word-or-less title for the conversation\b"
          r"|Analy[sz]e this conversation and provide:\s*1\.\s*The detected language of the conversation"
          r"\s*2\.\s*A concise title"
          r"|Please generate a concise title \(max 40 characters\) for a conversation",
          "New Chat"),
    # NextChat (ChatGPT-Next-Web): the topic prompt is appended as the last user message; English and Chinese.
    _rule("nextchat-title",
          r"Please generate a four to five word title summarizing our conversation"
          r"|使用四到五个字直接返回这句话的简要主题",
          "New Conversation"),
    _rule("nextchat-summary",
          r"Summarize (?:the|our) discussion briefly in \d+ (?:words|characters) or less to use as a prompt "
          r"for future context"
          r"|简要总结一下(?:对话内容|你和用户的对话)，?\s*用作后续的上下文提示",
          "(no summary)"),
    # LobeChat: its own system prompt, then the conversation as one user message.
    _rule("lobechat-title",
          r"你是一名擅长会话的助理，你需要将用户的会话总结为\s*10\s*个字以内的标题"
          r"|You are a professional conversation summarizer\.\s*Generate a concise title",
          "New chat", where="system"),
)


def effective_rules(custom: Iterable[SideRequestRule] = (), builtin: bool = True) -> list[SideRequestRule]:
    """Custom rules first, then the built-ins they do not replace by name; disabled rules dropped."""
    custom = list(custom)
    names = {r.name for r in custom}
    merged = custom + ([r for r in DEFAULT_RULES if r.name not in names] if builtin else [])
    return [r for r in merged if r.enabled]


def _last_user_text(messages: list[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(dict(message))
    return ""


def _system_text(messages: list[Mapping[str, Any]]) -> str:
    return "\n".join(message_text(dict(m)) for m in messages if m.get("role") in ("system", "developer"))


def find_side_request(
    messages: Iterable[Mapping[str, Any]], rules: Iterable[SideRequestRule] = DEFAULT_RULES
) -> SideRequestRule | None:
    """The first rule the request matches, or None for an ordinary message."""
    messages = list(messages)
    last_user: str | None = None
    system: str | None = None
    for rule in rules:
        if not rule.enabled:
            continue
        texts: list[str] = []
        if rule.where in ("last_user", "any"):
            last_user = _last_user_text(messages) if last_user is None else last_user
            texts.append(last_user)
        if rule.where in ("system", "any"):
            system = _system_text(messages) if system is None else system
            texts.append(system)
        if any(rule.regex.search(_ends(text)) for text in texts if text):
            return rule
    return None


SCAN_CHARS = 16_384


def _ends(text: str) -> str:
    """Task prompts state their task near the start or the end; scanning a participant's 20 MB
    message whole would hold every other client up for seconds."""
    if len(text) <= 2 * SCAN_CHARS:
        return text
    return text[:SCAN_CHARS] + "\n" + text[-SCAN_CHARS:]


def match_side_request(
    messages: Iterable[Mapping[str, Any]], rules: Iterable[SideRequestRule] = DEFAULT_RULES
) -> str | None:
    """The name of the rule the request matches, or None for an ordinary message."""
    rule = find_side_request(messages, rules)
    return rule.name if rule is not None else None
