/** test/security/attack-corpus.test.ts again, every signature checked by the WebCrypto backend (see ../../support/webcrypto-backend.ts). */
import '../../support/webcrypto-backend.js';
import '../attack-corpus.test.js';
