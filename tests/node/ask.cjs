// A Node program using the official openai package, unmodified, against `ogv serve`.
// It asks about a local GIF (sent as a data URL) and an image URL, once streamed, then
// sends a broken image, and prints what it got as one JSON line for the test to read.
// Usage: node ask.cjs BASE_URL API_KEY GIF_PATH IMAGE_URL
"use strict";

const fs = require("node:fs");
const OpenAI = require("openai");

async function main() {
  const [baseURL, apiKey, gifPath, imageUrl] = process.argv.slice(2);
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  const gif = "data:image/gif;base64," + fs.readFileSync(gifPath).toString("base64");
  const content = [
    { type: "text", text: "What is in these pictures?" },
    { type: "image_url", image_url: { url: gif } },
    { type: "image_url", image_url: { url: imageUrl } },
  ];
  const out = {};
  const answer = await client.chat.completions.create({
    model: "gemini-2.5-flash",
    messages: [{ role: "user", content }],
  });
  out.answer = answer.choices[0].message.content;
  const stream = await client.chat.completions.create({
    model: "gemini-2.5-flash",
    messages: [{ role: "user", content }],
    stream: true,
  });
  const pieces = [];
  for await (const chunk of stream) {
    pieces.push(chunk.choices[0]?.delta?.content ?? "");
  }
  out.streamed = pieces.join("");
  try {
    await client.chat.completions.create({
      model: "gemini-2.5-flash",
      messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] }],
    });
    out.error = null;
  } catch (err) {
    out.error = { status: err.status, param: err.param, code: err.code, message: err.message };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
