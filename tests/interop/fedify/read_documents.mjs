// Read our actor and feed entries with Fedify's vocabulary classes, as a Fedify server would.
// In:  {actor: JSON-LD, entries: [JSON-LD], documents: {url: JSON-LD}}
// Out: {actor: {...what Fedify found}, entries: [{...}]}
import { exportJwk } from "@fedify/fedify/sig";
import * as vocab from "@fedify/fedify/vocab";
import { href, loaders, run } from "./support.mjs";

async function publicJwk(key) {
  return key?.publicKey == null ? null : await exportJwk(key.publicKey);
}

async function readActor(document, options) {
  const actor = await vocab.Group.fromJsonLd(document, options);
  return {
    type: actor.constructor.name,
    id: href(actor.id),
    preferredUsername: actor.preferredUsername?.toString() ?? null,
    name: actor.name?.toString() ?? null,
    url: href(actor.url),
    inbox: href(actor.inboxId),
    outbox: href(actor.outboxId),
    followers: href(actor.followersId),
    sharedInbox: href(actor.endpoints?.sharedInbox),
    manuallyApprovesFollowers: actor.manuallyApprovesFollowers,
    ...(await keysOf(actor, options)),
  };
}

async function keysOf(actor, options) {
  const publicKeys = [];
  for await (const key of actor.getPublicKeys(options)) {
    publicKeys.push({
      id: href(key.id),
      owner: href(key.ownerId),
      algorithm: key.publicKey?.algorithm?.name ?? null,
      jwk: await publicJwk(key),
    });
  }
  const assertionMethods = [];
  for await (const key of actor.getAssertionMethods(options)) {
    assertionMethods.push({
      id: href(key.id),
      controller: href(key.controllerId),
      algorithm: key.publicKey?.algorithm?.name ?? null,
      jwk: await publicJwk(key),
    });
  }
  return { publicKeys, assertionMethods };
}

async function readEntry(document, options) {
  // The class the entry claims to be (Create.fromJsonLd for a Create, and so on).
  const cls = vocab[document.type];
  if (!(cls?.prototype instanceof vocab.Activity)) throw new TypeError(`not an activity: ${document.type}`);
  const activity = await cls.fromJsonLd(document, options);
  const object = await activity.getObject(options);
  const proofs = [];
  for await (const proof of activity.getProofs(options)) {
    proofs.push({
      cryptosuite: proof.cryptosuite,
      verificationMethod: href(proof.verificationMethodId),
      proofPurpose: proof.proofPurpose,
      created: proof.created?.toString() ?? null,
      proofValueLength: proof.proofValue?.length ?? null,
    });
  }
  return {
    type: activity.constructor.name,
    id: href(activity.id),
    actor: href(activity.actorId),
    published: activity.published?.toString() ?? null,
    to: activity.toIds.map(href),
    cc: activity.ccIds.map(href),
    proofs,
    object: object == null ? null : {
      type: object.constructor.name,
      id: href(object.id),
      name: object.name?.toString() ?? null,
      content: object.content?.toString() ?? null,
      startTime: object.startTime?.toString() ?? null,
      endTime: object.endTime?.toString() ?? null,
      attributedTo: href(object.attributionId),
      location: (await object.getLocation(options))?.name?.toString() ?? null,
      ...(vocab.isActor(object) ? await keysOf(object, options) : {}),
    },
  };
}

await run(async (input) => {
  const options = loaders(input.documents);
  const actor = input.actor == null ? null : await readActor(input.actor, options);
  const entries = [];
  for (const entry of input.entries ?? []) entries.push(await readEntry(entry, options));
  return { actor, entries };
});
