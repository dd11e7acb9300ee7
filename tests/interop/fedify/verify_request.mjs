// Verify a draft-cavage signed request with Fedify's verifyRequest.
// In:  {method, url, headers: [[name, value]...], body: string|null, now: ISO instant,
//       documents: {url: JSON-LD}}
// Out: {verified, keyId, ownerId}
import { Temporal } from "@js-temporal/polyfill";
import { verifyRequest } from "@fedify/fedify/sig";
import { href, loaders, run } from "./support.mjs";

await run(async (input) => {
  const request = new Request(input.url, {
    method: input.method,
    headers: input.headers,
    body: input.body ?? undefined,
  });
  const key = await verifyRequest(request, {
    ...loaders(input.documents),
    currentTime: Temporal.Instant.from(input.now),
  });
  return { verified: key != null, keyId: href(key?.id), ownerId: href(key?.ownerId) };
});
