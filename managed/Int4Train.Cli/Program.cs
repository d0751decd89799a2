// int4train — the command-line entry point; the commands live in one file each (TrainCommand, DemoCommand,
// CompareCommand, SampleCommand, ExportCommand, LayerDemo), the parser and error policy in CliApp.
return Int4Train.Cli.CliApp.Run(args);
