import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Which of `pids` owns the other end of a loopback connection, from Linux's own tables: the dialling
 * socket is the one whose local port is `remotePort` and whose peer port is `localPort` (in
 * /proc/net/tcp), and a process owns it if one of its file descriptors is that socket's inode.
 * Undefined when no candidate owns it (or /proc is not there).
 */
export function loopbackPeerPid(localPort: number, remotePort: number, pids: readonly number[]): number | undefined {
  const inode = socketInode(remotePort, localPort);
  if (inode === undefined) return undefined;
  const target = `socket:[${inode}]`;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return pid;
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return undefined;
}

/**
 * /proc/net/tcp as read in this turn of the event loop: a read costs ~17 ms on a loaded machine (the
 * kernel walks its whole socket table), and a partition asks about every open link at once.
 */
let tcpTable: string | undefined;

function readTcpTable(): string | undefined {
  if (tcpTable === undefined) {
    try {
      tcpTable = readFileSync('/proc/net/tcp', 'utf8');
    } catch {
      return undefined;
    }
    setImmediate(() => (tcpTable = undefined));
  }
  return tcpTable;
}

/** The inode of the IPv4 socket 127.0.0.1:localPort ↔ 127.0.0.1:remotePort. */
function socketInode(localPort: number, remotePort: number): string | undefined {
  const table = readTcpTable();
  if (table === undefined) return undefined;
  const local = `0100007F:${hexPort(localPort)}`;
  const remote = `0100007F:${hexPort(remotePort)}`;
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if (fields[1] === local && fields[2] === remote) return fields[9];
  }
  return undefined;
}

const hexPort = (port: number): string => port.toString(16).toUpperCase().padStart(4, '0');
