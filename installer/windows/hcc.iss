; Inno Setup script: per-user install of the PyInstaller bundle (dist\hcc), Japanese and English.
; Built by installer/windows/build_installer.ps1, which passes /DAppVersion=... and signs if a
; certificate is configured.
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#define AppName "Human Chat Completions"
#define AppExe "hcc.exe"

[Setup]
AppId={{6D1E3E59-2F0B-4E4C-9E55-3A5F2B7C9A11}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher={#AppName}
DefaultDirName={localappdata}\Programs\{#AppName}
DefaultGroupName={#AppName}
PrivilegesRequired=lowest
OutputDir=..\..\dist\installer
OutputBaseFilename=HumanChatCompletions-{#AppVersion}-setup
SetupIconFile=..\..\assets\icon.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Languages]
Name: "en"; MessagesFile: "compiler:Default.isl"
Name: "ja"; MessagesFile: "compiler:Languages\Japanese.isl"

[CustomMessages]
en.StartAtLogin=Start Human Chat Completions when I sign in
ja.StartAtLogin=サインイン時に Human Chat Completions を起動する
en.RemoveLogs=Also delete the exchange logs (your study data)?
ja.RemoveLogs=会話ログ（研究データ）も削除しますか？

[Tasks]
Name: "startatlogin"; Description: "{cm:StartAtLogin}"; Flags: unchecked

[Files]
Source: "..\..\dist\hcc\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"

[Registry]
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; \
  ValueName: "HumanChatCompletions"; ValueData: """{app}\{#AppExe}"""; \
  Flags: uninsdeletevalue; Tasks: startatlogin

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
// The exchange logs are research data: kept on uninstall unless the user says otherwise.
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DataDir: String;
begin
  if CurUninstallStep = usPostUninstall then
  begin
    DataDir := ExpandConstant('{localappdata}\human-chat-completions');
    if DirExists(DataDir) and
       (MsgBox(CustomMessage('RemoveLogs'), mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES) then
      DelTree(DataDir, True, True, True);
  end;
end;
