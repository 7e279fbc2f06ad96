// Drives a Sonet PDS with the official @atproto/api client, unchanged.
// Usage: node client_flow.mjs <pds url>; prints one JSON line with what it saw.
import { AtpAgent, RichText } from '@atproto/api'

const service = process.argv[2]
const out = {}
const alice = new AtpAgent({ service })
const bob = new AtpAgent({ service })

const suffix = Math.random().toString(36).slice(2, 8)
await alice.createAccount({ handle: `alice${suffix}.test`, email: `a${suffix}@example.com`, password: 'ts-client-password' })
await bob.createAccount({ handle: `bob${suffix}.test`, email: `b${suffix}@example.com`, password: 'ts-client-password' })
const aliceDid = alice.session.did
const bobDid = bob.session.did

// log in again from scratch, with the handle
const again = new AtpAgent({ service })
await again.login({ identifier: `alice${suffix}.test`, password: 'ts-client-password' })
out.loginDid = again.session.did

// a post with facets detected by the client's RichText
const rt = new RichText({ text: `hi @bob${suffix}.test see https://example.com #atproto` })
rt.facets = [
  { index: { byteStart: 3, byteEnd: 3 + `@bob${suffix}.test`.length }, features: [{ $type: 'app.bsky.richtext.facet#mention', did: bobDid }] },
]
const post = await alice.post({ text: rt.text, facets: rt.facets, createdAt: new Date().toISOString() })
out.postUri = post.uri

// like, repost, follow (the agent's own helpers)
const like = await bob.like(post.uri, post.cid)
const repost = await bob.repost(post.uri, post.cid)
const follow = await bob.follow(aliceDid)
out.like = like.uri
out.follow = follow.uri

// avatar upload and profile
const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC', 'base64')
const blob = await alice.uploadBlob(png, { encoding: 'image/png' })
out.blobMime = blob.data.blob.mimeType
await alice.com.atproto.repo.putRecord({
  repo: aliceDid, collection: 'app.bsky.actor.profile', rkey: 'self',
  record: { $type: 'app.bsky.actor.profile', displayName: 'Alice', avatar: blob.data.blob },
})

// read back
const rec = await alice.com.atproto.repo.getRecord({ repo: aliceDid, collection: 'app.bsky.feed.post', rkey: post.uri.split('/').pop() })
out.postText = rec.data.value.text
const likes = await bob.com.atproto.repo.listRecords({ repo: bobDid, collection: 'app.bsky.feed.like' })
out.likeCount = likes.data.records.length
await bob.deleteRepost(repost.uri)
const reposts = await bob.com.atproto.repo.listRecords({ repo: bobDid, collection: 'app.bsky.feed.repost' })
out.repostCount = reposts.data.records.length
const described = await alice.com.atproto.repo.describeRepo({ repo: aliceDid })
out.collections = described.data.collections
const session = await alice.com.atproto.server.getSession()
out.sessionHandle = session.data.handle
// refresh the session the way the agent does when a token expires
await alice.sessionManager.refreshSession()
out.refreshed = !!alice.session.accessJwt

// errors come back typed
try {
  await alice.com.atproto.repo.getRecord({ repo: aliceDid, collection: 'app.bsky.feed.post', rkey: '3zzzzzzzzzzzz' })
} catch (err) {
  out.notFound = err.error
}
const repo = await alice.com.atproto.sync.getRepo({ did: aliceDid })
out.carBytes = repo.data.length
console.log(JSON.stringify(out))
