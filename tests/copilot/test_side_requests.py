"""Side requests as the chat apps really send them (prompt texts follow their published sources)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from human_chat_completions.copilot.side_requests import (
    DEFAULT_RULES,
    SideRequestRule,
    effective_rules,
    find_side_request,
    match_side_request,
)

HISTORY = "USER: How do I keep basil alive indoors?\nASSISTANT: Give it plenty of light and water it when dry."

OPENWEBUI_TITLE = f"""### Task:
Generate a concise, 3-5 word title with an emoji summarizing the chat history.
### Guidelines:
- The title should clearly represent the main theme or subject of the conversation.
- Write the title in the chat's primary language; default to English if multilingual.
### Output:
JSON format: {{ "title": "your concise title here" }}
### Chat History:
<chat_history>
{HISTORY}
</chat_history>"""

OPENWEBUI_TITLE_NEWER = f"""### Task:
Generate a concise title summarizing the chat history.
### Guidelines:
- Keep it short: 2-4 words is best.
### Chat History:
<chat_history>
{HISTORY}
</chat_history>"""

OPENWEBUI_TAGS = f"""### Task:
Generate 1-3 broad tags categorizing the main themes of the chat history, along with 1-3 more specific subtopic tags.

### Output:
JSON format: {{ "tags": ["tag1", "tag2", "tag3"] }}

### Chat History:
<chat_history>
{HISTORY}
</chat_history>"""

OPENWEBUI_FOLLOW_UPS = f"""### Task:
Suggest 3-5 relevant follow-up questions or prompts that the user might naturally ask next in this conversation \
as a **user**, based on the chat history, to help continue or deepen the discussion.
### Output:
JSON format: {{ "follow_ups": ["Question 1?", "Question 2?", "Question 3?"] }}
### Chat History:
<chat_history>
{HISTORY}
</chat_history>"""

OPENWEBUI_QUERIES = f"""### Task:
Analyze the chat history to determine the necessity of generating search queries, in the given language. By \
default, **prioritize generating 1-3 broad and relevant search queries** unless it is absolutely certain that no \
additional information is required.
### Chat History:
<chat_history>
{HISTORY}
</chat_history>"""

OPENWEBUI_AUTOCOMPLETE = """### Task:
You are an autocompletion system. Continue the text in `<text>` based on the **completion type** in `<type>` and \
the given language.
<type>search query</type>
<text>how to water bas</text>"""

OPENWEBUI_EMOJI = """Your task is to reflect the speaker's likely facial expression through a fitting emoji. \
Interpret emotions from the message and reflect their facial expression using fitting, diverse emojis (e.g., 😊, 😢).

Message: ```I finally got it working!```"""

OPENWEBUI_RAG_TURN = """### Task:
Respond to the user query using the provided context, incorporating inline citations in the format [id].
<context>
<source id="1">Basil likes six hours of sun.</source>
</context>
<user_query>
how much light does basil need?
</user_query>"""

LIBRECHAT_TITLE = """Provide a concise, 5-word-or-less title for the conversation, using title case conventions. \
Only return the title itself.

Conversation:
User: How do I keep basil alive indoors?
AI: Give it plenty of light and water it when dry."""

LIBRECHAT_AGENTS_TITLE = """Analyze this conversation and provide:
1. The detected language of the conversation
2. A concise title in the detected language (5 words or less, no punctuation or quotation)

User: How do I keep basil alive indoors?"""

LIBRECHAT_ASSISTANTS_TITLE = """Please generate a concise title (max 40 characters) for a conversation that starts \
with:
User: How do I keep basil alive indoors?
Assistant: Give it plenty of light.

Title:"""

NEXTCHAT_TOPIC = (
    "Please generate a four to five word title summarizing our conversation without any lead-in, punctuation, "
    "quotation marks, periods, symbols, bold text, or additional text. Remove enclosing quotation marks."
)
NEXTCHAT_TOPIC_ZH = (
    "使用四到五个字直接返回这句话的简要主题，不要解释、不要标点、不要语气词、不要多余文本，不要加粗，如果没有主题，请直接返回“闲聊”"
)
NEXTCHAT_SUMMARY = "Summarize the discussion briefly in 200 words or less to use as a prompt for future context."

CONVERSATION = [
    {"role": "system", "content": "You are a helpful gardening assistant."},
    {"role": "user", "content": "How do I keep basil alive indoors?"},
    {"role": "assistant", "content": "Give it plenty of light and water it when dry."},
]


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize(
    "messages, expected",
    [
        (user(OPENWEBUI_TITLE), "openwebui-title"),
        (user(OPENWEBUI_TITLE_NEWER), "openwebui-title"),
        (user(OPENWEBUI_TAGS), "openwebui-tags"),
        (user(OPENWEBUI_FOLLOW_UPS), "openwebui-follow-ups"),
        (user(OPENWEBUI_QUERIES), "openwebui-search-queries"),
        (user(OPENWEBUI_AUTOCOMPLETE), "openwebui-autocomplete"),
        (user(OPENWEBUI_EMOJI), "openwebui-emoji"),
        (user(LIBRECHAT_TITLE), "librechat-title"),
        (user(LIBRECHAT_AGENTS_TITLE), "librechat-title"),
        (user(LIBRECHAT_ASSISTANTS_TITLE), "librechat-title"),
        ([*CONVERSATION, {"role": "user", "content": NEXTCHAT_TOPIC}], "nextchat-title"),
        ([*CONVERSATION, {"role": "user", "content": NEXTCHAT_TOPIC_ZH}], "nextchat-title"),
        ([*CONVERSATION, {"role": "user", "content": NEXTCHAT_SUMMARY}], "nextchat-summary"),
        (
            [{"role": "system", "content": "你是一名擅长会话的助理，你需要将用户的会话总结为 10 个字以内的标题"},
             {"role": "user",
              "content": "user: How do I keep basil alive indoors?\n\n请总结上述对话为10个字以内的标题"}],
            "lobechat-title",
        ),
        (
            [{"role": "system", "content": "You are a professional conversation summarizer. Generate a concise "
                                           "title that captures the essence of the conversation."},
             {"role": "user", "content": "user: How do I keep basil alive indoors?"}],
            "lobechat-title",
        ),
        # Content as a list of parts, as vision-capable clients send it.
        ([{"role": "user", "content": [{"type": "text", "text": OPENWEBUI_TAGS}]}], "openwebui-tags"),
    ],
)
def test_side_requests_are_recognised(messages: list[dict[str, Any]], expected: str) -> None:
    assert match_side_request(messages, DEFAULT_RULES) == expected


@pytest.mark.parametrize(
    "messages",
    [
        CONVERSATION,
        [*CONVERSATION, {"role": "user", "content": "Can you generate a concise title for my essay on basil?"}],
        [*CONVERSATION, {"role": "user", "content": "Please summarize our discussion so far."}],
        user(OPENWEBUI_RAG_TURN),  # Open WebUI's RAG wrapper is a real participant turn
        # A title prompt earlier in the history does not make the new message a side request.
        [{"role": "user", "content": NEXTCHAT_TOPIC}, {"role": "assistant", "content": "Basil"},
         {"role": "user", "content": "And what about mint?"}],
        # A system prompt that merely talks about titles.
        [{"role": "system", "content": "You help authors. Suggest a concise title when asked."},
         {"role": "user", "content": "hello"}],
        [],
    ],
)
def test_ordinary_messages_are_not_side_requests(messages: list[dict[str, Any]]) -> None:
    assert match_side_request(messages, DEFAULT_RULES) is None


def test_every_default_rule_has_a_canned_reply() -> None:
    assert len({r.name for r in DEFAULT_RULES}) == len(DEFAULT_RULES)
    assert all(r.reply and r.action == "canned" for r in DEFAULT_RULES)


def test_find_returns_the_rule_with_its_reply() -> None:
    rule = find_side_request(user(OPENWEBUI_TITLE))
    assert rule is not None and rule.reply == '{"title": "New chat"}'


def test_custom_rules_add_replace_and_disable() -> None:
    mine = SideRequestRule(name="my-app-title", pattern=r"^TITLE ME:", action="copilot")
    louder = SideRequestRule(name="openwebui-title", pattern=r"###\s*Task:\s*Generate a concise",
                             action="operator")
    off = SideRequestRule(name="nextchat-title", pattern="x", enabled=False)
    rules = effective_rules([mine, louder, off])
    assert rules[0] is mine
    assert find_side_request(user("title me: basil"), rules) is mine  # case-insensitive
    found = find_side_request(user(OPENWEBUI_TITLE), rules)
    assert found is louder and found.action == "operator"
    assert match_side_request([*CONVERSATION, {"role": "user", "content": NEXTCHAT_TOPIC}], rules) is None
    assert effective_rules([mine], builtin=False) == [mine]


def test_system_and_any_rules() -> None:
    in_system = SideRequestRule(name="s", pattern="summarizer bot", where="system")
    anywhere = SideRequestRule(name="a", pattern="magic words", where="any")
    messages = [{"role": "developer", "content": "You are the Summarizer Bot."}, {"role": "user", "content": "hi"}]
    assert match_side_request(messages, [in_system]) == "s"
    assert match_side_request(user("summarizer bot"), [in_system]) is None
    assert match_side_request(user("say the MAGIC words"), [anywhere]) == "a"
    assert match_side_request([{"role": "system", "content": "magic words"}], [anywhere]) == "a"


def test_a_bad_pattern_is_refused() -> None:
    with pytest.raises(ValidationError, match="regular expression"):
        SideRequestRule(name="broken", pattern="(unclosed")


def test_rules_round_trip_through_json() -> None:
    rule = SideRequestRule(name="x", pattern="y", where="any", action="copilot", reply="z")
    assert SideRequestRule.model_validate_json(rule.model_dump_json()) == rule


def test_a_huge_message_is_scanned_at_its_ends_only():
    from human_chat_completions.copilot.side_requests import match_side_request

    filler = "lorem ipsum " * 2_000_000  # 24 MB of an ordinary participant message
    title_task = "Please generate a four to five word title summarizing our conversation"
    assert match_side_request([{"role": "user", "content": filler}]) is None
    assert match_side_request([{"role": "user", "content": filler + title_task}]) == "nextchat-title"
    assert match_side_request([{"role": "user", "content": "### Task:\nGenerate a concise, 3-5 word "
                                "title with an emoji\n" + filler}]) == "openwebui-title"
