// Start a LevelDB-backed AWS look-alike (kinesalite, dynalite) in memory on 127.0.0.1 only:
// their CLIs bind every interface.
// Usage: node launch.js PACKAGE OPTIONS_JSON [port]   (port 0 or none: a free port from the OS)
// Prints "READY http://127.0.0.1:PORT" once listening; exits when stdin closes or on SIGTERM/SIGINT.
'use strict'

const name = process.argv[2]
const options = JSON.parse(process.argv[3] || '{}')
const port = Number(process.argv[4] || 0)
const server = require(name)(options)

function stop() {
  if (server.closeAllConnections) server.closeAllConnections() // keep-alive clients hold sockets
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 2000).unref()
}

server.on('error', (err) => {
  process.stderr.write(`${name} failed: ${err.stack || err}\n`)
  process.exit(1)
})

server.listen(port, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`READY http://127.0.0.1:${address.port}\n`)
})

process.stdin.on('end', stop)
process.stdin.on('error', stop)
process.stdin.resume()
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
