// The official openai npm client against a running server.
// usage: node openai_client.mjs BASE_URL chat|responses stream|plain PROMPT [TIMEOUT_MS]
// Prints one JSON line: {"text": ..., "version": ...}.
import { readFileSync } from "node:fs";
import OpenAI from "openai";

const VERSION = JSON.parse(
  readFileSync(new URL("./node_modules/openai/package.json", import.meta.url)),
).version;

const [baseURL, api, mode, prompt, timeout] = process.argv.slice(2);
const client = new OpenAI({
  baseURL, apiKey: "sk-node", timeout: Number(timeout || 600000), maxRetries: 2,
});
let text = "";
if (api === "chat" && mode === "stream") {
  const stream = await client.chat.completions.create({
    model: "m", messages: [{ role: "user", content: prompt }], stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
} else if (api === "chat") {
  const completion = await client.chat.completions.create({
    model: "m", messages: [{ role: "user", content: prompt }],
  });
  text = completion.choices[0].message.content;
} else if (mode === "stream") {
  const stream = await client.responses.create({ model: "m", input: prompt, stream: true });
  for await (const event of stream) {
    if (event.type === "response.output_text.delta") text += event.delta;
  }
} else {
  const response = await client.responses.create({ model: "m", input: prompt });
  text = response.output_text;
}
console.log(JSON.stringify({ text, version: VERSION }));
