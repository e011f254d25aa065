import { connect } from 'node:net';

/** The JVM (override with TRELLIS_JAVA); Debian's ZooKeeper 3.8 jars run on it. */
export const JAVA = process.env.TRELLIS_JAVA ?? 'java';

const CLASSPATH = [
  '/etc/zookeeper/conf',
  '/usr/share/java/zookeeper.jar',
  '/usr/share/java/slf4j-log4j12.jar',
  '/usr/share/java/log4j-1.2.jar',
].join(':');

/** The lines every test server's zoo.cfg shares: loopback client port, no admin server, 4lw for probes. */
export function baseConfig(tickTime: number, dataDir: string, clientPort: number): string[] {
  return [
    `tickTime=${tickTime}`,
    `dataDir=${dataDir}`,
    `clientPort=${clientPort}`,
    'clientPortAddress=127.0.0.1',
    'maxClientCnxns=0',
    'admin.enableServer=false',
    '4lw.commands.whitelist=ruok,srvr,stat,mntr,cons',
  ];
}

/** The java command line of one server; `main` is the standalone or the quorum entry point. */
export function zooKeeperArgs(configFile: string, main: 'standalone' | 'quorum'): string[] {
  return [
    '-Xmx256m',
    // Two cores and several servers in parallel test files: a cheap JIT and GC start faster.
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Dzookeeper.admin.enableServer=false',
    '-Dzookeeper.root.logger=INFO,CONSOLE',
    '-Dlog4j.configuration=file:/etc/zookeeper/conf/log4j.properties',
    '-cp',
    CLASSPATH,
    main === 'standalone' ? 'org.apache.zookeeper.server.ZooKeeperServerMain' : 'org.apache.zookeeper.server.quorum.QuorumPeerMain',
    configFile,
  ];
}

/** Sends a four-letter-word command and resolves with the whole answer (the server closes after it). */
export function fourLetterWord(port: number, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`${command} timed out`)));
    socket.on('connect', () => socket.end(command));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** What `srvr` says the server is doing: `standalone`, `leader`, `follower`, or undefined while it serves nobody. */
export async function zooKeeperMode(port: number): Promise<string | undefined> {
  try {
    return /^Mode: (\w+)/m.exec(await fourLetterWord(port, 'srvr', 1000))?.[1];
  } catch {
    return undefined;
  }
}
