<?php
// Signs the user out: the session ends, and with it the hand-off's permission.
declare(strict_types=1);
session_start();
$_SESSION = [];
session_destroy();
header('Location: /', true, 303);
