"""The switchboard's commands for what others record on an exchange: each changes it and says so."""

from __future__ import annotations

from human_chat_completions.core import Author, Exchange, Mode, Switchboard
from human_chat_completions.core.events import ExchangeChanged


def opened(board: Switchboard, text: str = "hi") -> tuple[Exchange, list[Exchange]]:
    """A new exchange, and the exchanges of every ExchangeChanged published from now on."""
    exchange = board.open({"messages": [{"role": "user", "content": text}]}, stream=True)
    board.attach(exchange)
    changed: list[Exchange] = []
    board.events.listen(lambda event: changed.append(event.exchange)
                        if isinstance(event, ExchangeChanged) else None)
    return exchange, changed


def test_shown_records_the_first_window_only():
    board = Switchboard()
    exchange, changed = opened(board)
    board.mark_shown(exchange.id, "session-a")
    first = exchange.shown_at
    board.mark_shown(exchange.id, "session-b")
    assert first is not None and exchange.shown_at == first
    assert exchange.operator_session == "session-a" and changed == [exchange]


def test_first_keystroke_records_time_and_delivery_style_once():
    board = Switchboard()
    exchange, changed = opened(board)
    board.mark_first_keystroke(exchange.id, "live")
    first = exchange.first_keystroke_at
    board.mark_first_keystroke(exchange.id, "paced")
    assert first is not None and exchange.first_keystroke_at == first
    assert exchange.delivery_style == "live" and changed == [exchange]


def test_annotate_replaces_note_and_tag_at_any_time():
    board = Switchboard()
    exchange, changed = opened(board)
    board.annotate(exchange.id, "greeting", "warmup")
    board.reply(exchange.id, "Hello", done=True)
    board.annotate(exchange.id, None, "closing")
    assert (exchange.note, exchange.tag) == (None, "closing")
    assert changed.count(exchange) >= 2


def test_side_request_and_notice_are_recorded_and_announced():
    board = Switchboard()
    exchange, changed = opened(board, "### Task: Generate a concise title")
    board.mark_side_request(exchange.id, "openwebui-title")
    board.set_notice(exchange.id, "The LLM could not answer.", "auto_failed")
    assert exchange.side_request == "openwebui-title"
    assert (exchange.notice, exchange.notice_code) == ("The LLM could not answer.", "auto_failed")
    assert changed == [exchange, exchange]


def test_take_over_after_auto_text_makes_the_reply_auto_takeover():
    board = Switchboard()
    exchange, changed = opened(board)
    board.reply(exchange.id, "The LLM began ", author=Author.AUTO)
    board.take_over(exchange.id)
    assert exchange.notice_code == "taken_over" and exchange in changed
    board.reply(exchange.id, "and the operator finished.", done=True)
    assert exchange.author is Author.AUTO_TAKEOVER
    assert exchange.reply.text == "The LLM began and the operator finished."


def test_take_over_before_the_llm_wrote_anything_still_counts():
    board = Switchboard()
    exchange, _ = opened(board)
    board.take_over(exchange.id)
    assert exchange.author is Author.AUTO
    board.reply(exchange.id, "By hand.", done=True)
    assert exchange.author is Author.AUTO_TAKEOVER


def test_drafts_then_reply_record_who_wrote_it():
    board = Switchboard()
    exchange, _ = opened(board)
    draft = board.drafts.start(exchange, "p", "m")
    board.drafts.grow(exchange, draft, "Try Dune.")
    board.drafts.choose(exchange, draft.id)
    board.reply(exchange.id, "Try Dune.", done=True)
    assert exchange.author is Author.COPILOT and exchange.edit_distance == 0


def test_default_mode_applies_from_the_next_new_conversation():
    board = Switchboard()
    before = board.open({"messages": [{"role": "user", "content": "a"}]}, stream=True)
    board.set_default_mode(Mode.AUTO)
    after = board.open({"messages": [{"role": "user", "content": "b"}]}, stream=True)
    assert before.mode is Mode.HUMAN and after.mode is Mode.AUTO
    assert board.conversation(before.conversation_id).mode is Mode.HUMAN
