/**
 * A normal consumer in its own process (forked by consumerProcess): calls the provider in a closed
 * loop until told to stop, then reports. Apart from the attacker's process, so what it measures is
 * the provider's behaviour, not the attacker's own event loop.
 */
import { goodTraffic } from './good-traffic.js';

const [address, lanes] = [process.argv[2]!, Number(process.argv[3] ?? 4)];
const traffic = goodTraffic(address, lanes);
process.on('message', (message: string) => {
  if (message !== 'stop') return;
  void traffic.stop().then((result) => {
    process.send!(result, () => process.exit(0));
  });
});
// Warm up (connection, JIT) before the numbers count.
setTimeout(() => {
  traffic.reset();
  process.send!('ready');
}, 500);
