// Start kinesalite in memory on 127.0.0.1 only (its CLI binds every interface).
// Usage: node launch_kinesalite.js [port]   (port 0 or none: a free port chosen by the OS)
// Prints "READY http://127.0.0.1:PORT" once listening; exits when stdin closes or on SIGTERM/SIGINT.
'use strict'

const kinesalite = require('kinesalite')

const port = Number(process.argv[2] || 0)
const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 })

function stop() {
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 2000).unref()
}

server.on('error', (err) => {
  process.stderr.write(`kinesalite failed: ${err.stack || err}\n`)
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
