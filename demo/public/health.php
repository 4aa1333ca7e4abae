<?php
// The publisher's "page" check: PHP answers and the extension is loaded.
header('Content-Type: text/plain');
if (!extension_loaded('herald')) {
    http_response_code(500);
    echo "herald extension not loaded\n";
    return;
}
echo "ok\n";
