import { type ClientEvent, type SvidSource, zeroTrustClient } from '@zerotrust/client'

declare const log: { info(event: object): void; warn(event: object): void }
declare const svid: SvidSource

export const ledger = zeroTrustClient({
  baseUrl: 'https://ledger.internal:8443',
  tls: svid,
  expectPeer: 'spiffe://prod.example.com/ns/ledger/sa/ledger',
  // One event per attempt: origin, path (never the query), attempt, status, outcome, this workload and
  // the peer expected. Never a token, a proof or a key.
  onEvent: (event: ClientEvent) => (event.outcome === 'allow' ? log.info(event) : log.warn(event)),
})
