import { encodeBareFrame, FrameType } from '@trellis/core/internal';
import { echoFrame, RawPeer } from './raw-peer.js';

/**
 * What hostile or broken peers do to a provider, as reusable attacks on a port (the fuzzer's
 * bad-peer targets and the chaos suite's bad-peer scenarios run them beside normal traffic). Each
 * returns what the attacker saw; the caller judges the provider by its memory and its other callers.
 */

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface NonReadingOutcome {
  readonly requestsWritten: number;
  /** The GOAWAY reason a PING with a 4 MiB body got (it must be refused). */
  readonly bigPingAnswer: string | undefined;
}

/**
 * `connections` peers that write requests of `requestBytes` (echo messages) for `durationMs`,
 * keeping a few MiB queued on their side, and never read an answer; plus one PING with a 4 MiB body.
 */
export async function nonReadingAttack(port: number, options: { connections: number; requestBytes: number; durationMs: number }): Promise<NonReadingOutcome> {
  const attackers = await Promise.all(Array.from({ length: options.connections }, () => RawPeer.connect(port)));
  attackers.forEach((a) => a.stopReading());
  const bigPing = await RawPeer.connect(port);
  const header = encodeBareFrame(FrameType.PING, 0, Buffer.alloc(8)).subarray(0, 16);
  header.writeUInt32BE(4 * 1024 * 1024, 12);
  bigPing.write(Buffer.concat([header, Buffer.alloc(4 * 1024 * 1024)]));
  const frame = echoFrame(1, options.requestBytes);
  let written = 0;
  let streamId = 1;
  const until = Date.now() + options.durationMs;
  while (Date.now() < until) {
    for (const attacker of attackers) {
      while (attacker.socket.writableLength < 4 * 1024 * 1024 && !attacker.socket.destroyed) {
        const copy = Buffer.from(frame);
        copy.writeUInt32BE((streamId = (streamId + 2) & 0x7fffffff), 8);
        attacker.write(copy);
        written++;
      }
    }
    await sleep(20);
  }
  attackers.forEach((a) => a.destroy());
  // A guard only: the server closes it as soon as it reads the header; a loaded machine may be slow to.
  await Promise.race([bigPing.closed, sleep(30_000)]);
  bigPing.destroy();
  return { requestsWritten: written, bigPingAnswer: bigPing.goAway?.message };
}

export interface SlowSenderOutcome {
  /** Holders whose frame was refused for its call (the server's partial-frame budget was spent). */
  readonly refused: number;
  /** When each holder / dribbler was closed, ms after the attack started (Infinity: still open at the timeout). */
  readonly holderClosedMs: number[];
  readonly dribblerClosedMs: number[];
  /** The GOAWAY reasons they got (numbers replaced by N). */
  readonly reasons: string[];
}

/**
 * Slowloris after the handshake: `holders` peers send `heldBytes` of a 4 MiB request and stop;
 * `dribblers` peers send a request one byte every `dribbleEveryMs`. Waits until the provider closed
 * them all, or `timeoutMs`.
 */
export async function slowSenderAttack(
  port: number,
  options: { holders: number; heldBytes: number; dribblers: number; dribbleEveryMs: number; timeoutMs: number },
): Promise<SlowSenderOutcome> {
  const started = performance.now();
  const frame = echoFrame(1, 4 * 1024 * 1024 - 64);
  const held = frame.subarray(0, options.heldBytes);
  const holders: RawPeer[] = [];
  for (let i = 0; i < options.holders; i++) {
    const holder = await RawPeer.connect(port);
    holder.write(held);
    holders.push(holder);
  }
  const dribblers = await Promise.all(Array.from({ length: options.dribblers }, () => RawPeer.connect(port)));
  let sent = 0;
  const dribble = setInterval(() => {
    for (const d of dribblers) if (!d.socket.destroyed) d.write(frame.subarray(sent, sent + 1));
    sent++;
  }, options.dribbleEveryMs);
  const closedAt = (peers: RawPeer[]) => Promise.all(peers.map((p) => Promise.race([
    p.closed.then(() => performance.now() - started),
    sleep(options.timeoutMs).then(() => Infinity),
  ])));
  const [holderClosedMs, dribblerClosedMs] = await Promise.all([closedAt(holders), closedAt(dribblers)]);
  clearInterval(dribble);
  const all = [...holders, ...dribblers];
  all.forEach((p) => p.destroy());
  return {
    refused: holders.filter((h) => h.responses > 0).length,
    holderClosedMs,
    dribblerClosedMs,
    reasons: [...new Set(all.map((p) => p.goAway?.message.replace(/\d+/g, 'N') ?? 'no GOAWAY'))],
  };
}

export interface PingFloodOutcome {
  readonly connections: number;
  readonly goAways: number;
  readonly pongs: number;
  readonly reasons: string[];
}

/** `connections` peers flooding PINGs for `durationMs`, reconnecting the moment they are told to go. */
export async function pingFloodAttack(port: number, options: { connections: number; durationMs: number }): Promise<PingFloodOutcome> {
  const burst = Buffer.concat(Array.from({ length: 4096 }, () => encodeBareFrame(FrameType.PING, 0, Buffer.alloc(8, 1))));
  let pongs = 0;
  let goAways = 0;
  let connections = 0;
  const reasons = new Set<string>();
  const until = Date.now() + options.durationMs;
  const flooder = async () => {
    while (Date.now() < until) {
      const peer = await RawPeer.connect(port);
      connections++;
      while (!peer.socket.destroyed && Date.now() < until && peer.goAway === undefined) {
        if (!peer.write(burst)) await Promise.race([new Promise((r) => peer.socket.once('drain', r)), peer.closed, peer.told]);
      }
      peer.destroy();
      await peer.closed;
      pongs += peer.pongs;
      if (peer.goAway) {
        goAways++;
        reasons.add(peer.goAway.message);
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, flooder));
  return { connections, goAways, pongs, reasons: [...reasons] };
}

export interface OversizedFramesOutcome {
  /** Answers to the oversized requests (each must be a per-call refusal). */
  readonly refusedPerCall: number;
  /** Answers to the ordinary requests sent after them on the same connection. */
  readonly answered: number;
  readonly goAway: string | undefined;
}

/**
 * A peer that ignores the provider's SETTINGS: `rounds` times, a request with a body over
 * `overBytes` (past the default 4 MiB limit) followed by an ordinary one, on one connection.
 */
export async function oversizedFrameAttack(port: number, options: { rounds: number; overBytes: number }): Promise<OversizedFramesOutcome> {
  const peer = await RawPeer.connect(port);
  const over = echoFrame(1, options.overBytes);
  for (let i = 0; i < options.rounds; i++) {
    over.writeUInt32BE(4 * i + 1, 8);
    peer.write(over);
    peer.write(echoFrame(4 * i + 3, 10));
  }
  const until = Date.now() + 30_000;
  while (peer.responses < options.rounds * 2 && peer.goAway === undefined && Date.now() < until) await sleep(20);
  peer.destroy();
  return {
    refusedPerCall: peer.responseCodes.filter((code) => code === 8).length, // RESOURCE_EXHAUSTED
    answered: peer.responseCodes.filter((code) => code === 0).length,
    goAway: peer.goAway?.message,
  };
}
