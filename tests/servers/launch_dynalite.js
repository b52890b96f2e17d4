// Start dynalite in memory on 127.0.0.1 only (its CLI binds every interface).
// Usage: node launch_dynalite.js [port]   (port 0 or none: a free port chosen by the OS)
// Prints "READY http://127.0.0.1:PORT" once listening; exits when stdin closes or on SIGTERM/SIGINT.
'use strict'

const dynalite = require('dynalite')

const port = Number(process.argv[2] || 0)
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })

function stop() {
  if (server.closeAllConnections) server.closeAllConnections() // keep-alive clients hold sockets
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 2000).unref()
}

server.on('error', (err) => {
  process.stderr.write(`dynalite failed: ${err.stack || err}\n`)
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
