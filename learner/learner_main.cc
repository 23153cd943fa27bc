// Placeholder main; replaced by the module's issue.
int main() { return 0; }
