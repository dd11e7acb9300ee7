// A Fedify 1.5.9 inbox for bench/inbox_fedify.py: the anchor the node's inbox is measured
// against, doing the same work with the same signed activities.
//
//   node bench/fedify/inbox_server.mjs PORT NODE_MODULES FOLLOWED_JSON
//
// PORT: where to listen on 127.0.0.1. NODE_MODULES: the folder `npm ci` made in
// tests/interop (this script lives outside it, so Fedify is imported by path).
// FOLLOWED_JSON: a JSON list of the actor URLs this server follows.
//
// POST /inbox is Fedify's shared inbox: Fedify parses the JSON, verifies the draft-cavage
// HTTP signature (fetching the signer's actor over HTTP on the first request and keeping
// the key in its key cache, a MemoryKvStore here), checks the signer owns the activity's
// actor, and skips an activity id it has processed. The Create listener then keeps a Note
// from a followed actor in the key-value store, as an application's listener would. It is
// the least an application built on Fedify does, so the anchor is as cheap as Fedify gets.
// GET /bench/stored answers how many Notes were kept.
import http from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [port, nodeModules, followedJson] = process.argv.slice(2);
const fedifyPath = join(nodeModules, "@fedify", "fedify", "esm", "mod.js");
const { createFederation, MemoryKvStore, Create, Note, Person } = await import(
  pathToFileURL(fedifyPath).href
);

const followed = new Set(JSON.parse(followedJson));
const kv = new MemoryKvStore();
let stored = 0;

const federation = createFederation({
  kv,
  // The fake senders' actors live on 127.0.0.1, which Fedify refuses by default.
  allowPrivateAddress: true,
});

federation.setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
  if (identifier !== "bench") return null;
  return new Person({
    id: ctx.getActorUri(identifier),
    preferredUsername: identifier,
    inbox: ctx.getInboxUri(identifier),
  });
});

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Create, async (ctx, create) => {
    const actor = create.actorId?.href;
    if (actor == null || !followed.has(actor)) return;
    const object = await create.getObject();
    if (!(object instanceof Note) || object.id == null) return;
    await kv.set(["notes", object.id.href], {
      actor,
      activity: create.id?.href ?? null,
      content: object.content?.toString() ?? "",
      published: object.published?.toString() ?? null,
    });
    stored += 1;
  });

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === "GET" && req.url === "/bench/stored") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ stored }));
      return;
    }
    const body = await readBody(req);
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers,
      body: body.length > 0 ? body : undefined,
    });
    const response = await federation.fetch(request, { contextData: undefined });
    const answer = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(answer);
  } catch (error) {
    res.writeHead(500, { "Content-Type": "text/plain" });
    res.end(String(error?.stack ?? error));
  }
});

server.listen(Number(port), "127.0.0.1", () => {
  process.stdout.write(`listening ${port}\n`);
});
