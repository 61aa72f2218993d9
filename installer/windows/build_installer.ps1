# Build the Windows installer from dist\hcc (run build_scripts/build.py first).
# Signing: set HCC_SIGN_CERT_PATH (a .pfx) and HCC_SIGN_CERT_PASSWORD; without them the build
# is unsigned and says so.
param([string]$Version = "0.0.0")
$ErrorActionPreference = "Stop"
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe"
$args = @("/DAppVersion=$Version")
if ($env:HCC_SIGN_CERT_PATH) {
  $sign = "signtool sign /fd SHA256 /tr http://timestamp.digicert.com /td SHA256 " +
          "/f `"$env:HCC_SIGN_CERT_PATH`" /p `"$env:HCC_SIGN_CERT_PASSWORD`" `$f"
  Get-ChildItem "$here\..\..\dist\hcc" -Recurse -Include *.exe,*.dll | Where-Object {
    $_.Name -like "hcc*.exe" } | ForEach-Object {
    & signtool sign /fd SHA256 /tr http://timestamp.digicert.com /td SHA256 `
      /f $env:HCC_SIGN_CERT_PATH /p $env:HCC_SIGN_CERT_PASSWORD $_.FullName
  }
  $args += "/DSignTool=hccsign"
  $args += "/Shccsign=$sign"
} else {
  Write-Host "Code signing skipped: HCC_SIGN_CERT_PATH is not set."
}
& $iscc @args "$here\hcc.iss"
