// The Vercel AI SDK against a running server.
// usage: node ai_sdk.mjs BASE_URL compatible|openai generate|stream PROMPT
// `compatible` is @ai-sdk/openai-compatible (Chat Completions); `openai` is @ai-sdk/openai's
// default provider, which calls the Responses API. Prints {"text": ..., "versions": {...}}.
import { readFileSync } from "node:fs";
import { generateText, streamText } from "ai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { createOpenAI } from "@ai-sdk/openai";

const [baseURL, provider, mode, prompt] = process.argv.slice(2);
const model = provider === "compatible"
  ? createOpenAICompatible({ name: "hcc", baseURL, apiKey: "sk-ai-sdk", includeUsage: true })("m")
  : createOpenAI({ baseURL, apiKey: "sk-ai-sdk" })("gpt-4.1-mini");
let text = "";
if (mode === "stream") {
  const result = streamText({ model, prompt, maxRetries: 0, onError: ({ error }) => { throw error; } });
  for await (const piece of result.textStream) text += piece;
} else {
  ({ text } = await generateText({ model, prompt, maxRetries: 0 }));
}
const version = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url))).version;
const versions = Object.fromEntries(
  ["ai", "@ai-sdk/openai-compatible", "@ai-sdk/openai"].map((name) => [name, version(name)]),
);
console.log(JSON.stringify({ text, versions }));
