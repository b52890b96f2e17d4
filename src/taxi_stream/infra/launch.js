// Start a LevelDB-backed AWS look-alike (kinesalite, dynalite) in memory on 127.0.0.1 only:
// their CLIs bind every interface.
// Usage: node launch.js NODE_MODULES PACKAGE OPTIONS_JSON [port]   (port 0 or none: a free one)
// Prints "READY http://127.0.0.1:PORT" once listening; exits when stdin closes or on SIGTERM/SIGINT.
// A failure is one line on stderr and exit status 1.
'use strict'

const path = require('path')

const nodeModules = process.argv[2]
const name = process.argv[3]
const options = JSON.parse(process.argv[4] || '{}')
const port = Number(process.argv[5] || 0)

function fail(what, err) {
  process.stderr.write(`${name} ${what}: ${(err && err.message) || err}\n`)
  process.exit(1)
}

let server
try {
  server = require(path.join(nodeModules, name))(options)
} catch (err) {
  fail(`cannot be loaded from ${nodeModules}`, err)
}

function stop() {
  if (server.closeAllConnections) server.closeAllConnections() // keep-alive clients hold sockets
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 2000).unref()
}

server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}`, err))

server.listen(port, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`READY http://127.0.0.1:${address.port}\n`)
})

process.stdin.on('end', stop)
process.stdin.on('error', stop)
process.stdin.resume()
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
