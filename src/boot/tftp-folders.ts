// The TFTP folders install images are served from (shared by GRUB's configuration and the TFTP sources).

/** The TFTP folder the image folders under [assets] dir are served from. */
export const TFTP_ASSETS_FOLDER = 'assets';
