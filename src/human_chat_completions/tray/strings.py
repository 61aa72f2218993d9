"""Every string the tray menu shows, in English and Japanese (the window keeps its own)."""

from __future__ import annotations

from human_chat_completions.i18n import Strings, Translator

TRAY_STRINGS: Strings = {
    # key: (English, 日本語)
    "mode_human": ("Human", "人間"),
    "mode_copilot": ("Copilot", "コパイロット"),
    "mode_auto": ("Auto", "自動"),
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
    "tray_waiting_none": ("no requests waiting", "返信待ちなし"),
    "tray_waiting_one": ("1 request waiting", "返信待ち 1 件"),
    "tray_waiting_many": ("{count} requests waiting", "返信待ち {count} 件"),
    "tray_stopped": ("Stopped", "停止中"),
    "tray_starting": ("Starting...", "起動中…"),
    "tray_stopping": ("Stopping...", "停止しています…"),
    "tray_error": ("Not running: {error}", "停止しています：{error}"),
}


class TrayTranslator(Translator):
    """The tray menu's strings."""

    strings = TRAY_STRINGS
