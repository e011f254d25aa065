import { connect as http2Connect, constants } from 'node:http2';
import { h2 } from '@trellis/testkit';

const { Flag, frame, FrameType, grpcMessage, grpcRequestHeaders, hasGoAway, literalHeaders, RawHttp2Connection, streamEnded } = h2;
type Frame = h2.Frame;

/** What one attack got back, and the promise it checks: a protocol answer, never a hang or a crash. */
export interface AttackResult {
  readonly attack: string;
  /** How the server answered, for the report (`GOAWAY`, `stream 1 ended`, `RESOURCE_EXHAUSTED`…). */
  readonly answer: string;
  /** Empty when the server answered as it must. */
  readonly failures: string[];
}

export const ECHO_PATH = '/trellis.test.EchoService/Echo';
/** The gRPC status codes the message-level attacks must get (numbers as on the wire). */
const RESOURCE_EXHAUSTED = 8;
const INTERNAL = 13;

const answerOf = (frames: readonly Frame[], closed: boolean): string =>
  hasGoAway(frames) ? 'GOAWAY' : closed ? 'connection closed' : 'no connection error';

/** Garbage HPACK: a connection error (COMPRESSION_ERROR), so GOAWAY or a close. */
export async function garbageHpack(port: number, timeoutMs: number): Promise<AttackResult> {
  const socket = await RawHttp2Connection.open(port);
  try {
    socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f, 0x80, 0x00])));
    const { frames, closed } = await socket.until(hasGoAway, timeoutMs, 'garbage HPACK');
    return { attack: 'malformed HEADERS: garbage HPACK', answer: answerOf(frames, closed), failures: hasGoAway(frames) || closed ? [] : ['the connection was not refused'] };
  } finally {
    socket.destroy();
  }
}

/** HEADERS without `:path`, with an upper-case name (stream errors), then HEADERS on stream 0 (connection error). */
export async function malformedHeaders(port: number, timeoutMs: number): Promise<AttackResult> {
  const socket = await RawHttp2Connection.open(port);
  const failures: string[] = [];
  try {
    socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, literalHeaders([[':method', 'POST'], [':scheme', 'http'], ['content-type', 'application/grpc']])));
    socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3, literalHeaders([[':method', 'POST'], [':scheme', 'http'], [':path', ECHO_PATH], ['Content-Type', 'application/grpc']])));
    const both = (f: readonly Frame[]) => streamEnded(1)(f) && streamEnded(3)(f);
    const first = await socket.until(both, timeoutMs, 'HEADERS without :path / with an upper-case name');
    if (!first.closed && !both(first.frames)) failures.push('the malformed streams were not reset');
    socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS, 0, grpcRequestHeaders(ECHO_PATH, port)));
    const second = await socket.until(hasGoAway, timeoutMs, 'HEADERS on stream 0');
    if (!second.closed && !hasGoAway(second.frames)) failures.push('HEADERS on stream 0 did not end the connection');
    return {
      attack: 'malformed HEADERS: no :path, an upper-case name, stream 0',
      answer: `${first.closed ? 'connection closed' : 'streams 1 and 3 reset'}; then ${answerOf(second.frames, second.closed)}`,
      failures,
    };
  } finally {
    socket.destroy();
  }
}

/**
 * A well-formed gRPC call carrying `body` as its DATA, made with node:http2 so the answer's
 * `grpc-status` can be read (the body is what is malformed, not the HTTP/2 framing).
 */
function grpcCallWithBody(port: number, body: Buffer, timeoutMs: number): Promise<{ status: number | undefined; message: string; goAway: boolean }> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`http://127.0.0.1:${port}`);
    let goAway = false;
    let status: number | undefined;
    let message = '';
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    session.on('error', () => undefined);
    session.on('goaway', () => (goAway = true));
    const read = (headers: Record<string, unknown>) => {
      if (headers['grpc-status'] !== undefined) status = Number(headers['grpc-status']);
      if (headers['grpc-message'] !== undefined) message = decodeURIComponent(String(headers['grpc-message']));
    };
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST', [constants.HTTP2_HEADER_PATH]: ECHO_PATH, 'content-type': 'application/grpc', te: 'trailers',
    });
    stream.on('response', read);
    stream.on('trailers', read);
    stream.on('data', () => undefined);
    stream.on('error', () => undefined);
    stream.on('close', () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, message, goAway });
    });
    stream.end(body);
  });
}

/** A length prefix of 2 GiB against a 64 KiB limit: RESOURCE_EXHAUSTED for that call, the connection stays. */
export async function lengthBeyondLimit(port: number, timeoutMs: number): Promise<AttackResult> {
  const body = Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
  const { status, message, goAway } = await grpcCallWithBody(port, body, timeoutMs);
  const failures = [
    ...(status === RESOURCE_EXHAUSTED ? [] : [`status ${status}, not RESOURCE_EXHAUSTED (8)`]),
    ...(goAway ? ['the connection was closed for a per-call error'] : []),
  ];
  return { attack: 'a length prefix of 2 GiB (limit 64 KiB)', answer: `grpc-status ${status} "${message}"`, failures };
}

/** The compressed flag set, no grpc-encoding: INTERNAL for that call (gRPC's spec), the connection stays. */
export async function compressedWithoutEncoding(port: number, timeoutMs: number): Promise<AttackResult> {
  const { status, message, goAway } = await grpcCallWithBody(port, grpcMessage(Buffer.from([0x0a, 0x01, 0x78]), true), timeoutMs);
  const failures = [
    ...(status === INTERNAL ? [] : [`status ${status}, not INTERNAL (13)`]),
    ...(goAway ? ['the connection was closed for a per-call error'] : []),
  ];
  return { attack: 'a compressed flag without grpc-encoding', answer: `grpc-status ${status} "${message}"`, failures };
}

/** `streams` requests opened and reset in one write (the rapid-reset attack): the connection is cut off. */
export async function rstFlood(port: number, streams: number, timeoutMs: number): Promise<AttackResult> {
  const socket = await RawHttp2Connection.open(port);
  try {
    const burst: Buffer[] = [];
    const headers = grpcRequestHeaders(ECHO_PATH, port);
    for (let id = 1; id < 2 * streams; id += 2) {
      burst.push(frame(FrameType.HEADERS, Flag.END_HEADERS, id, headers));
      burst.push(frame(FrameType.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])));
    }
    socket.write(Buffer.concat(burst));
    const { frames, closed } = await socket.until(hasGoAway, timeoutMs, 'RST_STREAM flood');
    return {
      attack: `RST_STREAM flood: ${streams} streams opened and reset in one write`,
      answer: answerOf(frames, closed),
      failures: hasGoAway(frames) || closed ? [] : ['the flooding connection was not cut off'],
    };
  } finally {
    socket.destroy();
  }
}

/** `count` SETTINGS frames without waiting for an ACK: the connection is cut off. */
export async function settingsFlood(port: number, count: number, timeoutMs: number): Promise<AttackResult> {
  const socket = await RawHttp2Connection.open(port);
  try {
    const settings = frame(FrameType.SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100]));
    socket.write(Buffer.concat(Array.from({ length: count }, () => settings)));
    const { frames, closed } = await socket.until(hasGoAway, timeoutMs, 'SETTINGS flood');
    return {
      attack: `SETTINGS flood: ${count} frames without waiting for ACKs`,
      answer: answerOf(frames, closed),
      failures: hasGoAway(frames) || closed ? [] : ['the flooding connection was not cut off'],
    };
  } finally {
    socket.destroy();
  }
}

/**
 * 50 well-formed gRPC calls on one connection whose messages are random bytes (half of them behind a
 * plausible prefix): each call must be answered (a reply or an error status) and the connection
 * must survive — a bad message is that call's problem only.
 */
export async function randomMessages(port: number, random: () => number, timeoutMs: number): Promise<AttackResult> {
  const socket = await RawHttp2Connection.open(port);
  try {
    const ids: number[] = [];
    const headers = grpcRequestHeaders(ECHO_PATH, port);
    for (let i = 0, id = 1; i < 50; i++, id += 2) {
      const payload = Buffer.alloc(1 + Math.floor(random() * 40));
      for (let j = 0; j < payload.length; j++) payload[j] = Math.floor(random() * 256);
      if (random() < 0.5 && payload.length > 5) {
        payload[0] = random() < 0.5 ? 0 : 1;
        payload.writeUInt32BE(Math.max(0, payload.length - 5 + Math.floor(random() * 3) - 1), 1);
      }
      socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS, id, headers));
      socket.write(frame(FrameType.DATA, Flag.END_STREAM, id, payload));
      ids.push(id);
    }
    const all = (f: readonly Frame[]) => ids.every((id) => streamEnded(id)(f));
    const { frames, closed } = await socket.until(all, timeoutMs, '50 calls with random message bytes');
    const answered = ids.filter((id) => streamEnded(id)(frames)).length;
    const failures = [
      ...(closed || hasGoAway(frames) ? ['the connection was closed for bad messages'] : []),
      ...(answered < ids.length ? [`${ids.length - answered} calls were not answered`] : []),
    ];
    return { attack: 'random message bytes on 50 well-formed calls', answer: `${answered} of ${ids.length} calls answered, connection ${closed || hasGoAway(frames) ? 'closed' : 'kept'}`, failures };
  } finally {
    socket.destroy();
  }
}

/** `connections` connections of 20 random frames each (valid lengths, random types, flags, ids, payloads), then a PING. */
export async function randomFrames(port: number, random: () => number, connections: number, timeoutMs: number): Promise<AttackResult> {
  let refused = 0;
  let answered = 0;
  const sentinel = Buffer.from('sentinel');
  const pinged = (f: readonly Frame[]) => f.some((x) => x.type === FrameType.PING && x.payload.equals(sentinel));
  for (let round = 0; round < connections; round++) {
    const socket = await RawHttp2Connection.open(port);
    try {
      const frames: Buffer[] = [];
      for (let i = 0; i < 20; i++) {
        const payload = Buffer.alloc(Math.floor(random() * 64));
        for (let j = 0; j < payload.length; j++) payload[j] = Math.floor(random() * 256);
        frames.push(frame(Math.floor(random() * 10), Math.floor(random() * 256), Math.floor(random() * 8), payload));
      }
      socket.write(Buffer.concat([...frames, frame(FrameType.PING, 0, 0, sentinel)]));
      const { frames: answers } = await socket.until((f) => hasGoAway(f) || pinged(f), timeoutMs, `random frames, connection ${round}`);
      if (pinged(answers)) answered++;
      else refused++;
    } finally {
      socket.destroy();
    }
  }
  return { attack: `random frames: ${connections} connections of 20`, answer: `${refused} refused, ${answered} read through and answered the PING`, failures: [] };
}
