/**
 * What worker_threads would add per call: node:worker_threads cannot be handed a socket, so the
 * thread owning the connections would decode each request and post it to a worker over a
 * MessagePort, and post the answer back. This measures that round trip alone — the process's CPU
 * per request forwarded to a thread and answered — with the same pipelining as the calls.
 */
import { Worker } from 'node:worker_threads';

const ECHO_THREAD = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => parentPort.postMessage(m));
`;

export async function threadHopCpuUs(messages: number, window: number): Promise<number> {
  const worker = new Worker(ECHO_THREAD, { eval: true });
  const payload = { id: 0, service: 'bench.Work', method: 'Echo', body: new Uint8Array(32) };
  try {
    await roundTrips(worker, payload, 2000, window); // warm-up
    const before = process.cpuUsage();
    await roundTrips(worker, payload, messages, window);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / messages;
  } finally {
    await worker.terminate();
  }
}

function roundTrips(worker: Worker, payload: { id: number }, count: number, window: number): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0;
    let answered = 0;
    const onMessage = (): void => {
      answered++;
      if (answered === count) {
        worker.off('message', onMessage);
        resolve();
      } else if (sent < count) {
        worker.postMessage({ ...payload, id: sent++ });
      }
    };
    worker.on('message', onMessage);
    for (; sent < Math.min(window, count); sent++) worker.postMessage({ ...payload, id: sent });
  });
}
