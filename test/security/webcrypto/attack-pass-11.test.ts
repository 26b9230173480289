/** test/security/attack-pass-11.test.ts again, every signature checked by the WebCrypto backend (see ../../support/webcrypto-backend.ts). */
import '../../support/webcrypto-backend.js';
import '../attack-pass-11.test.js';
