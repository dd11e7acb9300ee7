// Sign a request with Fedify's signRequest (draft-cavage rsa-sha256), using the test's key.
// In:  {method, url, headers: [[name, value]...], body: string|null, privateKeyPem, keyId}
// Out: {method, url, headers: [[name, value]...]} as Fedify would send them
import { signRequest } from "@fedify/fedify/sig";
import { importPrivateKey, run } from "./support.mjs";

await run(async (input) => {
  const privateKey = await importPrivateKey(input.privateKeyPem, "RSASSA-PKCS1-v1_5");
  const request = new Request(input.url, {
    method: input.method,
    headers: input.headers,
    body: input.body ?? undefined,
  });
  const signed = await signRequest(request, privateKey, new URL(input.keyId));
  return { method: signed.method, url: signed.url, headers: [...signed.headers] };
});
