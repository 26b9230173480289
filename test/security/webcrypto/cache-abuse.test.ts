/** test/security/cache-abuse.test.ts again, every signature checked by the WebCrypto backend (see ../../support/webcrypto-backend.ts). */
import '../../support/webcrypto-backend.js';
import '../cache-abuse.test.js';
