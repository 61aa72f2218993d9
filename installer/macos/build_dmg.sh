#!/usr/bin/env bash
# Sign, notarize and package "dist/Human Chat Completions.app" (run build_scripts/build.py first).
# Signing needs HCC_CODESIGN_IDENTITY ("Developer ID Application: …"); notarization needs
# HCC_NOTARY_APPLE_ID, HCC_NOTARY_TEAM_ID and HCC_NOTARY_PASSWORD (an app-specific password).
# Without them each step is skipped with a clear line, and an unsigned .dmg is still made.
set -euo pipefail
cd "$(dirname "$0")/../.."
version="${1:-0.0.0}"
app="dist/Human Chat Completions.app"
dmg="dist/HumanChatCompletions-${version}.dmg"

if [[ -n "${HCC_CODESIGN_IDENTITY:-}" ]]; then
  codesign --deep --force --options runtime --timestamp \
    --entitlements installer/macos/entitlements.plist \
    --sign "$HCC_CODESIGN_IDENTITY" "$app"
  codesign --verify --deep --strict "$app"
else
  echo "Code signing skipped: HCC_CODESIGN_IDENTITY is not set (notifications need a signed app)."
fi

rm -f "$dmg"
hdiutil create -volname "Human Chat Completions" -srcfolder "$app" -ov -format UDZO "$dmg"

if [[ -n "${HCC_CODESIGN_IDENTITY:-}" && -n "${HCC_NOTARY_APPLE_ID:-}" ]]; then
  codesign --force --sign "$HCC_CODESIGN_IDENTITY" --timestamp "$dmg"
  xcrun notarytool submit "$dmg" --apple-id "$HCC_NOTARY_APPLE_ID" \
    --team-id "$HCC_NOTARY_TEAM_ID" --password "$HCC_NOTARY_PASSWORD" --wait
  xcrun stapler staple "$dmg"
else
  echo "Notarization skipped: signing identity or HCC_NOTARY_* credentials are not set."
fi
echo "built $dmg"
