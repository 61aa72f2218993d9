"""The copilot in the real window: a draft streams in, the operator uses and edits it; an auto
answer is taken over with one click."""

from __future__ import annotations

import time

from human_chat_completions.config import Settings
from human_chat_completions.copilot.profiles import Profile
from tests.fakes.upstream import FakeUpstream
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import focus_textbox, open_window, screenshot, type_text, wait_for_text
from tests.ui.test_operator_window import StreamingParticipant, conversation


def settings(upstream: FakeUpstream, mode: str) -> Settings:
    profile = Profile(name="fake", base_url=upstream.base_url, model="fake-model")
    return Settings(language="en", default_mode=mode, profiles=[profile])


def test_draft_used_edited_and_sent_from_the_window(tmp_path, browser):
    with FakeUpstream() as upstream, RunningServer(tmp_path / "data", settings(upstream, "copilot")) as server:
        upstream.behaviour.chunk_delay = 0.05
        page = open_window(browser, server.base)
        participant = StreamingParticipant(server.base, "carol", "Recommend a book")
        wait_for_text(page, "carol")
        conversation(page, "carol").click()
        wait_for_text(page, "Draft answer to: Recommend a book")
        page.wait_for_timeout(600)
        screenshot(page, "console-copilot-draft-en-1280")
        page.get_by_role("button", name="Use").first.click()
        page.wait_for_timeout(500)
        focus_textbox(page, "Reply")
        page.keyboard.press("End")
        page.keyboard.press("Control+End")
        type_text(page, " Enjoy!")
        time.sleep(0.5)
        assert participant.received == ""  # a draft leaves only on Send
        page.get_by_role("button", name="Send").click()
        assert participant.text() == "Draft answer to: Recommend a book Enjoy!"
        operator = Operator(server.base)
        [exchange] = operator.exchanges()
        operator.close()
        assert exchange["author"] == "edited" and exchange["chosen_draft_id"]
        page.close()


def test_auto_answer_taken_over_in_the_window(tmp_path, browser):
    with FakeUpstream() as upstream, RunningServer(tmp_path / "data", settings(upstream, "auto")) as server:
        upstream.behaviour.chunk_delay = 0.4
        upstream.behaviour.text = " ".join(["This automatic answer takes a while to arrive."] * 6)
        page = open_window(browser, server.base)
        participant = StreamingParticipant(server.base, "dave", "Explain tides in detail please")
        wait_for_text(page, "dave")
        conversation(page, "dave").click()
        wait_until(lambda: len(participant.deltas) >= 2, timeout=15)
        page.get_by_role("button", name="Take over").click()
        assert upstream.wait_disconnected(0)
        wait_for_text(page, "Taken over")
        sent = participant.received
        focus_textbox(page, "Reply")
        page.keyboard.press("Control+End")
        type_text(page, "and so on.")
        page.get_by_role("button", name="Send").click()
        assert participant.text().startswith(sent) and participant.text().endswith("and so on.")
        operator = Operator(server.base)
        [exchange] = operator.exchanges()
        operator.close()
        assert exchange["author"] == "auto+takeover"
        page.close()
