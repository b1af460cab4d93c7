#!/usr/bin/env node
// Stands in for `aws ec2-instance-connect open-tunnel` as ssh's ProxyCommand in the host tier:
// like the endpoint tunnel, it joins ssh's stdin and stdout to the host's port 22, here a TCP
// port on loopback that the container engine forwards to the host container.
//
//   loopback-tunnel.mjs PORT
import { connect } from 'node:net';

const port = Number(process.argv[2]);
if (process.argv.length !== 3 || !Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('usage: loopback-tunnel.mjs PORT\n');
  process.exit(64);
}
const socket = connect({ host: '127.0.0.1', port });
socket.on('error', (error) => {
  process.stderr.write(`loopback-tunnel: ${error.message}\n`);
  process.exit(1);
});
process.stdin.pipe(socket);
socket.pipe(process.stdout);
socket.on('close', () => process.exit(0));
