# Build the Windows installer from dist\hcc (run build_scripts/build.py first).
# Signing: set HCC_SIGN_CERT_PATH (a .pfx) and HCC_SIGN_CERT_PASSWORD; without them the build
# is unsigned and says so.
param([string]$Version = "0.0.0")
$ErrorActionPreference = "Stop"
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$root = Resolve-Path "$here\..\.."
$iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe"

function Sign-File([string]$Path) {
  & signtool sign /fd SHA256 /tr http://timestamp.digicert.com /td SHA256 `
    /f $env:HCC_SIGN_CERT_PATH /p $env:HCC_SIGN_CERT_PASSWORD $Path
  if ($LASTEXITCODE -ne 0) { throw "signtool failed on $Path" }
}

$signing = [bool]$env:HCC_SIGN_CERT_PATH
if ($signing) { Sign-File "$root\dist\hcc\hcc.exe" }
else { Write-Host "Code signing skipped: HCC_SIGN_CERT_PATH is not set." }

& $iscc "/DAppVersion=$Version" "$here\hcc.iss"
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
if ($signing) { Sign-File "$root\dist\installer\HumanChatCompletions-$Version-setup.exe" }
