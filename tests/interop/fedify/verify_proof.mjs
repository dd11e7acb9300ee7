// Verify the FEP-8b32 proofs on a document with Fedify's verifyProof and verifyObject.
// In:  {document: JSON-LD with a proof, documents: {url: JSON-LD}}
// Out: {type, proofs: [{verificationMethod, verified, keyId, controller}], objectVerified}
import { verifyObject, verifyProof } from "@fedify/fedify/sig";
import { Object as ASObject } from "@fedify/fedify/vocab";
import { href, loaders, run } from "./support.mjs";

await run(async (input) => {
  const options = loaders(input.documents);
  const parsed = await ASObject.fromJsonLd(input.document, options);
  const proofs = [];
  for await (const proof of parsed.getProofs(options)) {
    const key = await verifyProof(input.document, proof, options);
    proofs.push({
      verificationMethod: href(proof.verificationMethodId),
      verified: key != null,
      keyId: href(key?.id),
      controller: href(key?.controllerId),
    });
  }
  // verifyObject also insists that every actor and attributedTo is vouched for by a proof.
  const verified = await verifyObject(parsed.constructor, input.document, options);
  return { type: parsed.constructor.name, proofs, objectVerified: verified != null };
});
