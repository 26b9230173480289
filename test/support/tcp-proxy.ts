/**
 * A TCP proxy on 127.0.0.1 that a test can cut and restore, to take one client (one API
 * instance) off Redis or PostgreSQL while everything else stays connected; or pause, to make the
 * link go silent without closing (a stalled network: only a heartbeat notices).
 */
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drops every open connection and refuses new ones until `restore()`. */
  cut(): void;
  restore(): void;
  /** Holds every byte in both directions, connections left open, until `resume()`. */
  pause(): void;
  /** Delivers what was held, and forwards again. */
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let open = true;
  let paused = false;
  const held: Array<() => void> = [];
  const server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      // No Nagle: a proxy that holds small writes back for an ACK adds ~40 ms to every round trip.
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => (paused ? held.push(() => to.write(chunk)) : to.write(chunk)));
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore() {
      open = true;
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const send of held.splice(0)) send();
    },
    async close() {
      open = false;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
