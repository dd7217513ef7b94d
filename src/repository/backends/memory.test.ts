import { testBackend } from '../../../test/conformance/backend.js'
import { openMemoryBackend } from './memory.js'

testBackend('memory', async () => ({ backend: openMemoryBackend(), cleanup: async () => {} }))
