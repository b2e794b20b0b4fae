<?php
// A form handler run by php-cgi (handler "index.php"): GET shows two forms, POST shows what arrived,
// from an urlencoded form ($_POST) or a multipart one ($_POST and $_FILES).

function h(string $text): string
{
    return htmlspecialchars($text, ENT_QUOTES, 'UTF-8');
}

if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    ?>
<form method="post"><input name="name"> <button>Send</button></form>
<form method="post" enctype="multipart/form-data">
  <input name="name"> <input type="file" name="upload"> <button>Upload</button>
</form>
<?php
    return;
}

$fields = $_POST;
$files = [];
foreach ($_FILES as $field => $file) {
    $files[$field] = [
        'name' => $file['name'],
        'type' => $file['type'],
        'size' => $file['size'],
        'sha256' => $file['error'] === UPLOAD_ERR_OK ? hash_file('sha256', $file['tmp_name']) : null,
    ];
}
error_log('form with fields: ' . implode(', ', array_keys($fields))); // the log
header('Content-Type: application/json');
echo json_encode(['contentType' => $_SERVER['CONTENT_TYPE'] ?? '', 'fields' => $fields, 'files' => $files]);
