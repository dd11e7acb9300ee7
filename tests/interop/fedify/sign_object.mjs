// Sign an object with Fedify's signObject (FEP-8b32, eddsa-jcs-2022), using the test's key.
// In:  {document: JSON-LD, privateKeyPem, keyId, created: ISO instant, documents: {...}}
// Out: {signed: compact JSON-LD with the proof, as Fedify would send it}
import { Temporal } from "@js-temporal/polyfill";
import { signObject } from "@fedify/fedify/sig";
import { Object as ASObject } from "@fedify/fedify/vocab";
import { importPrivateKey, loaders, run } from "./support.mjs";

await run(async (input) => {
  const options = loaders(input.documents);
  const privateKey = await importPrivateKey(input.privateKeyPem, "Ed25519");
  const object = await ASObject.fromJsonLd(input.document, options);
  const signed = await signObject(object, privateKey, new URL(input.keyId), {
    ...options,
    created: Temporal.Instant.from(input.created),
  });
  return { signed: await signed.toJsonLd({ format: "compact", ...options }) };
});
