"""Every string the operator window shows, in English and Japanese."""

from __future__ import annotations

import locale
import os

# The Logs page's strings, kept together.
LOGS_STRINGS: dict[str, tuple[str, str]] = {
    "logs_title": ("Exchange log", "やりとりの記録"),
    "logs_search": ("Search participant, text, author, outcome…", "参加者・本文・作成者・結果で検索…"),
    "logs_refresh": ("Refresh", "更新"),
    "logs_col_time": ("Time", "時刻"),
    "logs_col_participant": ("Participant", "参加者"),
    "logs_col_input": ("User input", "ユーザー入力"),
    "logs_col_final": ("Final reply", "最終返信"),
    "logs_col_author": ("Author", "作成者"),
    "logs_col_outcome": ("Outcome", "結果"),
    "logs_showing": ("Showing {first}–{last} of {total} exchanges",
                     "{total} 件中 {first}–{last} 件目を表示"),
    "logs_showing_matched": ("Showing {first}–{last} of {matched} matching ({total} in the log)",
                             "該当 {matched} 件中 {first}–{last} 件目を表示（記録は全 {total} 件）"),
    "logs_no_match": ("No exchange matches ({total} in the log).",
                      "該当するやりとりはありません（記録は全 {total} 件）。"),
    "logs_loading": ("Reading the log…", "記録を読み込み中…"),
    "logs_newer": ("Newer", "新しいもの"),
    "logs_older": ("Older", "古いもの"),
    "logs_empty": ("No exchanges logged yet.", "まだ記録はありません。"),
    "logs_select": ("Select an exchange to compare its draft and final reply.",
                    "やりとりを選ぶと、下書きと最終返信を比較できます。"),
    "logs_user_input": ("User input", "ユーザー入力"),
    "logs_draft": ("Draft ({profile})", "下書き（{profile}）"),
    "logs_no_draft": ("No draft: written by hand.", "下書きなし：手書きの返信です。"),
    "logs_final": ("Final reply", "最終返信"),
    "logs_edit_distance": ("Edit distance: {distance}", "編集距離：{distance}"),
    "logs_export_format": ("Export format", "書き出し形式"),
    "logs_include_unfinished": ("Include unfinished", "未完了も含める"),
    "logs_export": ("Export", "書き出し"),
    "logs_exported": ("Wrote {count} rows to {path}", "{count} 行を {path} に書き出しました"),
    "logs_export_left_out": ("{count} exchanges left out; {meta} says why.",
                             "{count} 件を除外しました（理由は {meta} に記載）。"),
    "logs_export_failed": ("Export failed: {error}", "書き出しに失敗しました：{error}"),
}

STRINGS: dict[str, tuple[str, str]] = {
    **LOGS_STRINGS,
    # key: (English, 日本語)
    "app_title": ("Human Chat Completions", "Human Chat Completions"),
    "nav_conversations": ("Conversations", "会話"),
    "nav_logs": ("Logs", "記録"),
    "nav_settings": ("Settings", "設定"),
    "no_conversations": ("No conversations yet. Point a chat app's base_url here.",
                         "まだ会話はありません。チャットアプリの base_url をここに向けてください。"),
    "select_conversation": ("Select a conversation on the left.", "左の一覧から会話を選んでください。"),
    "state_waiting": ("waiting", "待機中"),
    "state_replying": ("replying", "返信中"),
    "state_idle": ("idle", "待機なし"),
    "mode_human": ("Human", "人間"),
    "mode_copilot": ("Copilot", "コパイロット"),
    "mode_auto": ("Auto", "自動"),
    "mode_unavailable": ("Needs an LLM copilot profile (not configured yet).",
                         "LLM コパイロットのプロファイルが必要です（未設定）。"),
    "role_system": ("System prompt", "システムプロンプト"),
    "role_developer": ("Developer prompt", "開発者プロンプト"),
    "role_user": ("Participant", "参加者"),
    "role_assistant": ("Reply", "返信"),
    "role_tool": ("Tool result", "ツールの結果"),
    "tool_call": ("Tool call", "ツール呼び出し"),
    "show_prompt": ("Show system prompt", "システムプロンプトを表示"),
    "regenerate": ("Regenerate request", "再生成リクエスト"),
    "abandoned": ("The client went away before the reply was finished.",
                  "返信が終わる前にクライアントが切断しました。"),
    "failed": ("This request ended with an error.", "このリクエストはエラーで終了しました。"),
    "reply_label": ("Reply", "返信"),
    "reply_hint": ("Type your reply… (Ctrl+Enter to send)", "返信を入力…（Ctrl+Enter で送信）"),
    "send": ("Send", "送信"),
    "delivered": ("Delivered (locked)", "送信済み（変更不可）"),
    "delivery_live": ("Live typing", "ライブ入力"),
    "delivery_paced": ("Paced on Send", "送信時にペース配信"),
    "canned": ("Canned replies", "定型文"),
    "new_request": ("New request from {label}", "{label} から新しいリクエスト"),
    "waiting_for": ("waiting {time}", "{time} 待機"),
    "nothing_to_answer": ("Nothing to answer in this conversation.", "この会話に返信待ちはありません。"),
    "non_stream_note": ("This client is not streaming: it gets the whole text on Send.",
                        "このクライアントはストリーミングしません。送信時に全文が届きます。"),
    "settings_title": ("Settings", "設定"),
    "settings_port": ("Port (applies after restart)", "ポート（再起動後に反映）"),
    "settings_default_mode": ("Default mode for new conversations", "新しい会話の既定モード"),
    "settings_delivery": ("Delivery style", "配信方法"),
    "settings_first_token": ("First-token delay (s)", "最初のトークンまでの遅延（秒）"),
    "settings_tps": ("Tokens per second", "毎秒トークン数"),
    "settings_idle": ("Live typing: release after idle (s)", "ライブ入力：入力停止後に送信（秒）"),
    "settings_language": ("Language", "言語"),
    "settings_theme": ("Theme", "テーマ"),
    "settings_canned": ("Canned replies (one per line)", "定型文（1 行に 1 つ）"),
    "settings_save": ("Save", "保存"),
    "settings_saved": ("Settings saved.", "設定を保存しました。"),
    "settings_invalid": ("Check the values: {error}", "値を確認してください：{error}"),
    "profile_title": ("LLM copilot profile", "LLM コパイロットのプロファイル"),
    "profile_name": ("Profile name", "プロファイル名"),
    "profile_base_url": ("Base URL (OpenAI-compatible)", "ベース URL（OpenAI 互換）"),
    "profile_model": ("Model", "モデル"),
    "profile_instruction": ("Instruction for the copilot", "コパイロットへの指示"),
    "profile_key": ("API key (kept in the OS keyring)", "API キー（OS のキーリングに保存）"),
    "profile_key_hint": ("Leave empty to keep the current key", "空欄なら現在のキーのまま"),
    "settings_candidates": ("Draft candidates", "下書きの候補数"),
    "tag_label": ("Tag (optional)", "タグ（任意）"),
    "note_label": ("Note for the log (optional)", "記録用メモ（任意）"),
    "log_failed": ("The exchange log cannot be written ({error}). Replies still go out, but are "
                   "not recorded: free disk space now.",
                   "会話ログに書き込めません（{error}）。返信は届きますが記録されません。すぐにディスクの空きを確保してください。"),
    "away_title": ("When the operator is away", "オペレーター不在時"),
    "away_after": ("{mode}: act after (s)", "{mode}：この秒数後に対応"),
    "away_never": ("never", "しない"),
    "away_action": ("Then", "対応"),
    "away_wait": ("Keep waiting", "待ち続ける"),
    "away_send_draft": ("Send the draft", "下書きを送る"),
    "away_send_canned": ("Send the first canned reply", "最初の定型文を送る"),
    "tray_open": ("Open operator window", "オペレーター画面を開く"),
    "tray_start": ("Start server", "サーバーを起動"),
    "tray_stop": ("Stop server", "サーバーを停止"),
    "tray_restart": ("Restart server", "サーバーを再起動"),
    "tray_default_mode": ("Default mode", "既定のモード"),
    "tray_notify": ("Notify on new requests", "新しいリクエストを通知"),
    "tray_open_on_request": ("Open window on new requests", "新しいリクエストで画面を開く"),
    "tray_start_at_login": ("Start at login", "ログイン時に起動"),
    "tray_copy_url": ("Copy API base URL", "API のベース URL をコピー"),
    "tray_open_logs": ("Open logs folder", "ログフォルダーを開く"),
    "tray_open_settings": ("Open settings", "設定を開く"),
    "tray_quit": ("Quit", "終了"),
    "tray_running": ("Running on {address} - {waiting}", "{address} で稼働中 - {waiting}"),
    "tray_waiting_none": ("no requests waiting", "待機なし"),
    "tray_waiting_one": ("1 request waiting", "待機 1 件"),
    "tray_waiting_many": ("{count} requests waiting", "待機 {count} 件"),
    "tray_stopped": ("Stopped", "停止中"),
    "tray_starting": ("Starting...", "起動中…"),
    "tray_stopping": ("Stopping...", "停止中…"),
    "tray_error": ("Not running: {error}", "停止：{error}"),
    "language_auto": ("Follow the system", "システムに従う"),
    "theme_light": ("Light", "ライト"),
    "theme_dark": ("Dark", "ダーク"),
    "theme_system": ("System", "システム"),
    "token_title": ("Operator token", "オペレーター トークン"),
    "token_prompt": ("This window is opened from another computer. Enter the operator token.",
                     "別のコンピューターから開かれています。オペレーター トークンを入力してください。"),
    "token_field": ("Token", "トークン"),
    "token_submit": ("Open", "開く"),
    "token_wrong": ("That token is not correct.", "トークンが正しくありません。"),
    "token_wait": ("Too many wrong tokens. Try again in {seconds} s.",
                   "トークンの誤りが多すぎます。{seconds} 秒後にもう一度お試しください。"),
    "image": ("Image", "画像"),
    "image_load": ("Load image ({host})", "画像を読み込む（{host}）"),
    "image_placeholder": ("Image: {alt} ({host})", "画像：{alt}（{host}）"),
    "image_failed": ("The image from {host} could not be shown.", "{host} の画像を表示できませんでした。"),
    "drafts": ("Copilot drafts", "コパイロットの下書き"),
    "draft_title": ("Draft {number}", "下書き {number}"),
    "draft_writing": ("writing…", "作成中…"),
    "draft_failed": ("The copilot could not write a draft: {error}",
                     "コパイロットが下書きを作れませんでした：{error}"),
    "use_draft": ("Use", "使う"),
    "regenerate_drafts": ("Regenerate", "再生成"),
    "regenerate_hint": ("Instruction (optional): shorter, more polite…", "指示（任意）：もっと短く、丁寧に…"),
    "take_over": ("Take over", "引き継ぐ"),
    "auto_writing": ("The LLM is answering. Take over to finish by hand.",
                     "LLM が回答中です。引き継ぐと手で仕上げられます。"),
    "notice_auto_failed": ("The LLM could not answer. Please answer by hand.",
                           "LLM が回答できませんでした。手で回答してください。"),
    "notice_auto_needs_profile": ("Auto mode needs an LLM profile. Please answer by hand.",
                                  "自動モードには LLM プロファイルが必要です。手で回答してください。"),
    "notice_taken_over": ("Taken over: finish the reply by hand.", "引き継ぎました。手で返信を仕上げてください。"),
    "side_request": ("Side request ({rule}), answered automatically", "付随リクエスト（{rule}）：自動で回答済み"),
    "earlier_hidden": ("{count} earlier messages not shown", "以前のメッセージ {count} 件は非表示"),
}


def system_language() -> str:
    """'ja' when the OS locale is Japanese, else 'en'."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(name, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    code = locale.getlocale()[0] or ""
    return "ja" if code.lower().startswith("ja") else "en"


def resolve_language(setting: str) -> str:
    return system_language() if setting == "auto" else setting


class Translator:
    """Looks strings up in one language; `t("key", name=value)` fills placeholders."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, key: str, **values: object) -> str:
        english, japanese = STRINGS[key]
        text = japanese if self.language == "ja" else english
        return text.format(**values) if values else text
