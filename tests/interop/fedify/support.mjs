// Shared by the Fedify cross-check scripts: read the case from stdin, answer JSON on stdout,
// and load documents only from what the test handed over or the contexts Fedify ships.
import { readFileSync } from "node:fs";

// Fedify 1.5 ships its preloaded JSON-LD contexts in this module but does not export it.
const CONTEXTS_MODULE = "../node_modules/@fedify/fedify/esm/runtime/contexts.js";
const { default: preloadedContexts } = await import(new URL(CONTEXTS_MODULE, import.meta.url));

// Every URL something asked for that was neither a shipped context nor a test document.
export const networkAttempts = [];

// No script may reach the network: a fetch is recorded and refused.
globalThis.fetch = async (input) => {
  const url = typeof input === "string" ? input : (input.url ?? String(input));
  networkAttempts.push(url);
  throw new TypeError(`network fetch refused in the interop tests: ${url}`);
};

export function readCase() {
  return JSON.parse(readFileSync(0, "utf8"));
}

// Serve `documents` (keyed by URL without fragment) and the contexts Fedify ships; refuse
// (and record) anything else.
export function documentLoader(documents = {}) {
  return async (url) => {
    const address = String(url).split("#")[0];
    if (Object.hasOwn(documents, address)) {
      return { contextUrl: null, documentUrl: address, document: documents[address] };
    }
    if (Object.hasOwn(preloadedContexts, url)) {
      return { contextUrl: null, documentUrl: url, document: preloadedContexts[url] };
    }
    networkAttempts.push(String(url));
    throw new Error(`document not available offline: ${url}`);
  };
}

// Options for Fedify calls that load keys and contexts, with an empty key cache.
export function loaders(documents = {}) {
  return { documentLoader: documentLoader(documents), contextLoader: documentLoader() };
}

export function answer(verdict) {
  process.stdout.write(`${JSON.stringify({ ...verdict, networkAttempts })}\n`);
}

// Turn an exception into a verdict instead of a stack trace, so the test can show it.
export async function run(main) {
  try {
    answer(await main(readCase()));
  } catch (error) {
    answer({ error: `${error?.name ?? "Error"}: ${error?.message ?? error}` });
    process.exitCode = 1;
  }
}

function pemBody(pem) {
  const base64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(Buffer.from(base64, "base64"));
}

// Import a PKCS#8 PEM private key the test generated (RSA for requests, Ed25519 for proofs).
export async function importPrivateKey(pem, algorithm) {
  const params =
    algorithm === "Ed25519" ? { name: "Ed25519" } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  return await crypto.subtle.importKey("pkcs8", pemBody(pem), params, true, ["sign"]);
}

export function href(url) {
  return url == null ? null : url.href;
}
